"""Queries per API read: a fixed number for every list and detail, at 1 row and at many.

The routes come from the URL configuration: every viewset in the DRF router
(`incidents.api.urls.router.registry`), every GET action of those viewsets, and every other
route of `incidents.api.urls`. Each has its queries listed below, one line a query; the
number of lines is the count asserted. A new endpoint, action or route without a listing
fails `RoutesHaveCountsTests`, and `ROWS` must say how to build its records.

Counts of the streamed exports (per chunk, and PostgreSQL's COPY) are in test_exports.py;
the admin changelist's in tests/admin/test_admin.py; a read served from the shared cache
runs none (test_scaling.py).
"""

from contextlib import contextmanager

from django.core.cache import cache
from django.db import transaction
from django.test import TestCase
from django.urls import URLPattern, reverse

from incidents.api import urls
from incidents.api.urls import router
from incidents.models import Incident
from incidents.stats import GROUP_BY_KEYS
from tests.api.test_api_writes import LIST_URL, WriteTestCase, incident_payload
from tests.factories import (
    add_actor,
    add_figure,
    build_incidents,
    make_actor,
    make_incident,
    make_location,
    make_source,
)

MANY = 50

# Basename -> the queries of its list page and of its detail, one line a query.
QUERIES = {
    "incident": {
        "list": (
            "COUNT(*) for the paginator",
            "the page of incidents JOIN location JOIN parent",
            "the page's actor roles JOIN actor, claimed_by",
            "the page's casualty figures JOIN actor, claimed_by, source",
            "the page's sources (through the M2M table)",
            "the page's children",
        ),
        "detail": (
            "the incident JOIN location JOIN parent",
            "its actor roles JOIN actor, claimed_by",
            "its casualty figures JOIN actor, claimed_by, source",
            "its sources (through the M2M table)",
            "its children",
        ),
    },
    "casualtyfigure": {
        "list": (
            "COUNT(*) for the paginator",
            "the page of figures JOIN incident, actor, claimed_by, source",
        ),
        "detail": ("the figure JOIN incident, actor, claimed_by, source",),
    },
    "actor": {
        "list": ("COUNT(*) for the paginator", "the page of actors JOIN parent"),
        "detail": ("the actor JOIN parent",),
    },
    "location": {
        "list": ("COUNT(*) for the paginator", "the page of locations"),
        "detail": ("the location",),
    },
    "source": {
        "list": ("COUNT(*) for the paginator", "the page of sources, without their text"),
        "detail": ("the source, with its text",),
    },
}

# The incident list walked by cursor (?cursor=): the numbered page's queries without the COUNT.
CURSOR_LIST = QUERIES["incident"]["list"][1:]

# "<basename>-<url_name>" of each GET action -> its queries, for an editor signed in by session.
ACTIONS = {
    "incident-history": (
        "the session",
        "the user",
        "the user's permissions",
        "the user's groups' permissions",
        "the incident",
        "the incident's history, users joined",
        "its actor roles' history, users joined",
        "its casualty figures' history, users joined",
    ),
}

# Routes of incidents.api.urls outside the router -> their queries.
OTHER_ROUTES = {
    "stats-casualties": ("one GROUP BY over the filtered incidents, whatever the group_by key",),
}

# Routes that read no records, and so have no count to keep.
NOT_COUNTED = {
    "api-root": "the router's index of the resources",
    "schema": "the OpenAPI schema, built from the code",
    "swagger-ui": "a page loading the schema",
    "redoc": "a page loading the schema",
    "datapackage": "the CSV layouts described, built from the code",
    "table-schema-incidents": "the incident CSV's layout described, built from the code",
    "table-schema-claims": "the claims CSV's layout described, built from the code",
}


# -- Records of each resource: ROWS[basename](rows) saves `rows` of them and returns the
# details to fetch, each as (lookup value, {key of a list in the body: its length}) ---------------


def incidents(rows):
    """build_incidents: one parent, the rest its children with roles, claims and a source."""
    build_incidents(rows)
    newest = Incident.objects.order_by("-start_date", "-id").first()
    if rows == 1:
        return [(newest.slug, {"actors": 0, "casualty_figures": 0, "sources": 0, "children": 0})]
    return [
        (newest.slug, {"actors": 2, "casualty_figures": 2, "sources": 1, "children": 0}),
        (newest.parent.slug, {"children": rows - 1}),
    ]


def casualty_figures(rows):
    source = make_source()
    for _ in range(rows):
        figure = add_figure(
            make_incident(), source, claimed_by=make_actor(), actor=make_actor(), refresh=False
        )
    return [(figure.pk, {})]


# The public sees the actors, places and sources published incidents use (docs/api.md).


def actors(rows):
    """One parent and its members, each with a role in a published incident (the parent is
    public as the parent of public actors)."""
    incident = make_incident()
    parent = actor = make_actor()
    for _ in range(rows - 1):
        actor = make_actor(parent=parent)
        add_actor(incident, actor)
    if rows == 1:
        add_actor(incident, parent)
    return [(actor.slug, {})]


def locations(rows):
    for _ in range(rows):
        location = make_location()
        make_incident(location=location)
    return [(location.slug, {})]


def sources(rows):
    incident = make_incident()
    for _ in range(rows):
        source = make_source()
        incident.sources.add(source)
    return [(source.slug, {})]


ROWS = {
    "incident": incidents,
    "casualtyfigure": casualty_figures,
    "actor": actors,
    "location": locations,
    "source": sources,
}


@contextmanager
def rolled_back():
    """Records made inside are gone after, so each route starts from an empty database."""
    cache.clear()  # throttle counts, and any cached answer
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def get_actions(viewset):
    return [action for action in viewset.get_extra_actions() if "get" in action.mapping]


def detail_url(basename, viewset, lookup):
    return reverse(f"{basename}-detail", kwargs={viewset.lookup_url_kwarg or viewset.lookup_field: lookup})


class RoutesHaveCountsTests(TestCase):
    def test_every_registered_viewset_has_its_list_and_detail_queries(self):
        self.assertEqual(set(QUERIES), {basename for _, _, basename in router.registry})
        self.assertEqual(set(ROWS), set(QUERIES))
        for basename, kinds in QUERIES.items():
            with self.subTest(basename=basename):
                self.assertEqual(set(kinds), {"list", "detail"})

    def test_every_get_action_has_its_queries(self):
        self.assertEqual(
            set(ACTIONS),
            {
                f"{basename}-{action.url_name}"
                for _, viewset, basename in router.registry
                for action in get_actions(viewset)
            },
        )

    def test_every_other_route_has_its_queries_or_reads_no_records(self):
        named = {pattern.name for pattern in urls.urlpatterns if isinstance(pattern, URLPattern)}
        named |= {pattern.name for pattern in router.urls} - {
            f"{basename}-{suffix}"
            for _, viewset, basename in router.registry
            for suffix in ["list", "detail", *(action.url_name for action in viewset.get_extra_actions())]
        }
        self.assertEqual(named, set(OTHER_ROUTES) | set(NOT_COUNTED))
        self.assertFalse(set(OTHER_ROUTES) & set(NOT_COUNTED))


class ResourceQueryCountTests(TestCase):
    def test_every_list_at_one_row_and_at_many(self):
        for _, _, basename in router.registry:
            for rows in (1, MANY):
                with self.subTest(basename=basename, rows=rows), rolled_back():
                    ROWS[basename](rows)
                    expected = QUERIES[basename]["list"]
                    # Expected: the queries QUERIES[basename]["list"] lists above, one a line.
                    with self.assertNumQueries(len(expected)):
                        response = self.client.get(reverse(f"{basename}-list"), {"page_size": 100})
                    self.assertEqual(response.status_code, 200)
                    self.assertEqual(response.json()["count"], rows)
                    self.assertEqual(len(response.json()["results"]), rows)

    def test_every_detail_at_one_row_and_at_many(self):
        for _, viewset, basename in router.registry:
            for rows in (1, MANY):
                with self.subTest(basename=basename, rows=rows), rolled_back():
                    for lookup, lengths in ROWS[basename](rows):
                        expected = QUERIES[basename]["detail"]
                        # Expected: the queries QUERIES[basename]["detail"] lists above, one a line.
                        with self.assertNumQueries(len(expected)):
                            response = self.client.get(detail_url(basename, viewset, lookup))
                        self.assertEqual(response.status_code, 200)
                        body = response.json()
                        self.assertEqual({key: len(body[key]) for key in lengths}, lengths)

    def test_the_cursor_list_runs_no_count(self):
        for rows in (1, MANY):
            with self.subTest(rows=rows), rolled_back():
                incidents(rows)
                # Expected: the queries CURSOR_LIST lists above (the page, no COUNT, then roles,
                # figures, sources, children).
                with self.assertNumQueries(len(CURSOR_LIST)):
                    response = self.client.get(LIST_URL, {"cursor": "", "page_size": 3})
                self.assertEqual(response.status_code, 200)
                self.assertNotIn("count", response.json())
                self.assertEqual(len(response.json()["results"]), min(rows, 3))


class StatsQueryCountTests(TestCase):
    def test_one_query_per_request_for_every_key_at_one_row_and_at_many(self):
        url = reverse("stats-casualties")
        for rows in (1, MANY):
            with rolled_back():
                incidents(rows)
                for key in GROUP_BY_KEYS:
                    with self.subTest(rows=rows, key=key):
                        # Expected: the queries OTHER_ROUTES["stats-casualties"] lists above.
                        with self.assertNumQueries(len(OTHER_ROUTES["stats-casualties"])):
                            response = self.client.get(url, {"group_by": key})
                        self.assertEqual(response.status_code, 200)


class HistoryQueryCountTests(WriteTestCase):
    def history(self, slug):
        self.client.defaults.pop("HTTP_AUTHORIZATION", None)
        self.client.force_login(self.editor)
        expected = ACTIONS["incident-history"]
        # Expected: the queries ACTIONS["incident-history"] lists above, one a line.
        with self.assertNumQueries(len(expected)):
            response = self.client.get(reverse("incident-history", kwargs={"slug": slug}))
        self.assertEqual(response.status_code, 200)
        return response.json()

    def test_one_entry(self):
        make_incident(slug="story")
        self.assertEqual(len(self.history("story")), 1)

    def test_many_entries_of_the_incident_its_roles_and_its_figures(self):
        self.as_editor()
        self.post(LIST_URL, incident_payload())
        url = reverse("incident-detail", kwargs={"slug": "new-clash"})
        for n in range(5):
            self.client.patch(url, {"title": f"Title {n}"}, content_type="application/json")
        entries = self.history("new-clash")
        self.assertEqual({e["record"] for e in entries}, {"incident", "actor_role", "casualty_figure"})
        self.assertGreater(len(entries), 5)
