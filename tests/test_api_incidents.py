"""The incidents endpoints: shape, filters, validation, pagination and query counts."""

import datetime

from django.test import TestCase
from django.urls import reverse

from incidents.search import refresh_search_documents
from tests.factories import (
    add_actor,
    add_figure,
    make_actor,
    make_incident,
    make_location,
    make_source,
)

LIST_URL = reverse("incident-list")


def slugs(response):
    return [row["slug"] for row in response.json()["results"]]


class IncidentShapeTests(TestCase):
    def setUp(self):
        self.source = make_source(slug="wire")
        self.place = make_location(slug="khorugh", name="Khorugh")
        self.army = make_actor(slug="army", name="Army", kind="state_forces")
        self.gov = make_actor(slug="gov", name="Government", kind="state")
        self.operation = make_incident(slug="operation", location=self.place)
        self.clash = make_incident(slug="clash", parent=self.operation, location=self.place)
        self.clash.sources.add(self.source)
        add_actor(self.clash, self.army, "side_a")
        add_figure(self.clash, self.source, actor=self.army, claimed_by=self.gov)

    def test_detail_embeds_place_actors_claims_totals_sources_and_family(self):
        body = self.client.get(reverse("incident-detail", kwargs={"slug": "clash"})).json()

        self.assertEqual(body["location"]["slug"], "khorugh")
        self.assertEqual(body["location"]["latitude"], 37.4897)
        self.assertEqual(body["parent"], "operation")
        self.assertEqual(body["children"], [])
        self.assertEqual(body["actors"][0]["actor"], {"slug": "army", "name": "Army", "kind": "state_forces"})
        self.assertEqual(body["actors"][0]["role"], "side_a")
        claim = body["casualty_figures"][0]
        self.assertEqual(claim["claimed_by"]["slug"], "gov")
        self.assertEqual(claim["source"]["slug"], "wire")
        self.assertEqual(claim["quote"], "at least 12 soldiers were killed")
        self.assertEqual((claim["low"], claim["best"], claim["high"]), (12, 12, None))
        self.assertEqual(body["totals"]["killed"], {"low": 12, "best": 12, "high": None})
        self.assertEqual(body["totals"]["wounded"], {"low": None, "best": None, "high": None})
        self.assertEqual([s["slug"] for s in body["sources"]], ["wire"])

    def test_parent_lists_its_children(self):
        body = self.client.get(reverse("incident-detail", kwargs={"slug": "operation"})).json()
        self.assertEqual(body["children"], ["clash"])

    def test_list_has_the_detail_shape(self):
        listed = self.client.get(LIST_URL).json()["results"]
        detail = self.client.get(reverse("incident-detail", kwargs={"slug": "clash"})).json()
        self.assertEqual(next(row for row in listed if row["slug"] == "clash"), detail)

    def test_unknown_slug_is_a_json_404(self):
        response = self.client.get(reverse("incident-detail", kwargs={"slug": "nope"}))
        self.assertEqual(response.status_code, 404)
        self.assertEqual(response["Content-Type"], "application/json")
        self.assertIn("detail", response.json())

    def test_unknown_url_is_a_json_404(self):
        response = self.client.get("/api/v1/no-such-thing/")
        self.assertEqual(response.status_code, 404)
        self.assertEqual(response.json(), {"detail": "Not found."})


class IncidentFilterTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        tj = make_location(slug="tj-place", country_code="TJ", name="Khorugh")
        kg = make_location(slug="kg-place", country_code="KG", name="Osh", admin1="Osh Region")
        cls.rebel = make_actor(slug="rebels", name="Rebel Front", aliases=["the militants"])
        cls.army = make_actor(slug="army", name="Army", kind="state_forces")
        cls.early = make_incident(
            slug="early",
            title="Early clash",
            start_date=datetime.date(2012, 7, 1),
            end_date=datetime.date(2012, 7, 3),
            location=tj,
        )
        cls.span = make_incident(
            slug="span",
            title="Long operation",
            start_date=datetime.date(2012, 7, 2),
            end_date=datetime.date(2012, 7, 20),
            date_precision="week",
            location=tj,
        )
        cls.protest = make_incident(
            slug="protest",
            title="Protest at the embassy",
            event_type="protests",
            sub_event_type="peaceful_protest",
            start_date=datetime.date(2012, 7, 10),
            location=kg,
            parent=cls.span,
            summary="Demonstrators gathered against the operation.",
        )
        add_actor(cls.early, cls.rebel, "side_b")
        add_actor(cls.span, cls.army, "side_a")
        add_actor(cls.span, cls.rebel, "side_b")

    def get(self, **params):
        return self.client.get(LIST_URL, params)

    def test_date_range_matches_overlapping_spans(self):
        self.assertEqual(set(slugs(self.get(date_from="2012-07-04", date_to="2012-07-09"))), {"span"})
        self.assertEqual(set(slugs(self.get(date_from="2012-07-03"))), {"early", "span", "protest"})
        self.assertEqual(set(slugs(self.get(date_to="2012-07-01"))), {"early"})

    def test_country_accepts_several_codes_in_any_case(self):
        self.assertEqual(set(slugs(self.get(country="kg"))), {"protest"})
        self.assertEqual(set(slugs(self.get(country="KG,TJ"))), {"early", "span", "protest"})

    def test_event_type_one_or_several(self):
        self.assertEqual(slugs(self.get(event_type="protests")), ["protest"])
        self.assertEqual(len(slugs(self.get(event_type="protests,battles"))), 3)
        self.assertEqual(slugs(self.get(sub_event_type="peaceful_protest")), ["protest"])

    def test_actor_in_any_role_without_duplicates(self):
        self.assertEqual(slugs(self.get(actor="rebels")), ["span", "early"])
        self.assertEqual(slugs(self.get(actor="army")), ["span"])

    def test_location_and_parent(self):
        self.assertEqual(slugs(self.get(location="kg-place")), ["protest"])
        self.assertEqual(slugs(self.get(parent="span")), ["protest"])

    def test_search_covers_title_summary_actor_names_aliases_and_places(self):
        self.assertEqual(slugs(self.get(search="embassy")), ["protest"])
        self.assertEqual(slugs(self.get(search="demonstrators")), ["protest"])
        self.assertEqual(slugs(self.get(search="Rebel Front")), ["span", "early"])
        self.assertEqual(slugs(self.get(search="militants")), ["span", "early"])
        self.assertEqual(slugs(self.get(search="osh")), ["protest"])
        self.assertEqual(slugs(self.get(search="nothing-like-this")), [])

    def test_search_sees_an_edit_at_once(self):
        # On PostgreSQL the indexed vector is a generated column, rewritten with the row.
        self.assertEqual(slugs(self.get(search="lighthouse")), [])
        self.protest.title = "Protest at the lighthouse"
        self.protest.save()
        refresh_search_documents([self.protest.pk])
        self.assertEqual(slugs(self.get(search="lighthouse")), ["protest"])

    def test_newest_first_with_a_stable_tie_breaker(self):
        twin = make_incident(slug="twin", start_date=datetime.date(2012, 7, 10))
        order = slugs(self.get())
        self.assertEqual(order, ["twin", "protest", "span", "early"])
        self.assertGreater(twin.pk, self.protest.pk)

    def test_bad_values_are_400s_naming_the_parameter(self):
        cases = {
            "date_from": "2012-13-45",
            "date_to": "yesterday",
            "country": "Tajikistan",
            "event_type": "war",
            "sub_event_type": "battles,armed_clash",
            "actor": "no-such-actor",
            "location": "nowhere",
            "parent": "orphan",
            "page_size": "abc",
        }
        for param, value in cases.items():
            with self.subTest(param=param):
                response = self.get(**{param: value})
                self.assertEqual(response.status_code, 400)
                self.assertEqual(response["Content-Type"], "application/json")
                self.assertIn(param, response.json())

    def test_page_size_bounds(self):
        for value in ("0", "-5", "501", "1e3"):
            with self.subTest(page_size=value):
                self.assertEqual(self.get(page_size=value).status_code, 400)
        self.assertEqual(len(slugs(self.get(page_size="500"))), 3)

    def test_pages_walk_every_row_once(self):
        first = self.get(page_size=2).json()
        self.assertEqual(first["count"], 3)
        second = self.client.get(first["next"]).json()
        self.assertIsNone(second["next"])
        seen = [r["slug"] for r in first["results"]] + [r["slug"] for r in second["results"]]
        self.assertEqual(sorted(seen), ["early", "protest", "span"])

    def test_page_past_the_end_is_a_json_404(self):
        response = self.get(page=99)
        self.assertEqual(response.status_code, 404)
        self.assertIn("detail", response.json())

    def test_unknown_parameters_are_ignored(self):
        self.assertEqual(len(slugs(self.get(colour="blue"))), 3)


class IncidentWritesAreClosedTests(TestCase):
    def test_anonymous_writes_are_refused_and_change_nothing(self):
        incident = make_incident(slug="kept", title="Kept")
        detail = reverse("incident-detail", kwargs={"slug": "kept"})
        payload = {"slug": "new", "title": "New"}
        for method, url in (
            ("post", LIST_URL),
            ("put", detail),
            ("patch", detail),
            ("delete", detail),
        ):
            with self.subTest(method=method):
                response = getattr(self.client, method)(url, payload, content_type="application/json")
                self.assertIn(response.status_code, (401, 403))
        incident.refresh_from_db()
        self.assertEqual(incident.title, "Kept")
        self.assertEqual(type(incident).objects.count(), 1)


def build_incidents(count):
    source = make_source()
    place = make_location()
    parent = make_incident(location=place)
    for _ in range(count - 1):
        incident = make_incident(location=place, parent=parent)
        incident.sources.add(source)
        add_actor(incident, make_actor(), "side_a")
        add_actor(incident, make_actor(), "side_b", claimed_by=make_actor())
        add_figure(incident, source, claimed_by=make_actor(), actor=make_actor(), refresh=False)
        add_figure(incident, source, group="civilians", refresh=False)


class IncidentQueryCountTests(TestCase):
    # Expected queries for a page of incidents:
    #   1. COUNT(*) for the paginator
    #   2. incidents JOIN location JOIN parent (one page)
    #   3. incident-actors JOIN actor, claimed_by for the page
    #   4. casualty figures JOIN actor, claimed_by, source for the page
    #   5. sources of the page (through the M2M table)
    #   6. children of the page
    def test_list_query_count_does_not_grow_with_rows(self):
        for count in (1, 50):
            with self.subTest(incidents=count):
                build_incidents(count)
                with self.assertNumQueries(6):
                    response = self.client.get(LIST_URL, {"page_size": 50})
                self.assertEqual(len(response.json()["results"]), min(50, response.json()["count"]))

    # Expected queries for one incident: the incident with its place and parent,
    # then its actors, figures, sources and children (one query each).
    def test_detail_query_count_is_fixed(self):
        build_incidents(50)
        slug = self.client.get(LIST_URL, {"page_size": 1}).json()["results"][0]["slug"]
        with self.assertNumQueries(5):
            response = self.client.get(reverse("incident-detail", kwargs={"slug": slug}))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(len(response.json()["casualty_figures"]), 2)
