"""The incident endpoints' answers: the detail's embedded records, the list's shape, JSON 404s.

Filters: test_filters.py; pages: test_pagination.py; writes: test_api_writes.py; queries:
test_query_counts.py."""

from django.test import TestCase
from django.urls import reverse

from tests.factories import (
    add_actor,
    add_figure,
    make_actor,
    make_incident,
    make_location,
    make_source,
)

LIST_URL = reverse("incident-list")


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
