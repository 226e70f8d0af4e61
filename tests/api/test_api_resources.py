"""Casualty claims, actors, locations and sources endpoints: what a detail and a list show, JSON 404s.

Their filters: test_filters.py; their queries: test_query_counts.py."""

from django.test import TestCase
from django.urls import reverse

from tests.factories import add_actor, add_figure, make_actor, make_incident, make_location, make_source


class CasualtyEndpointTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.wire = make_source(slug="wire")
        cls.gov = make_actor(slug="gov", name="Government", kind="state")
        cls.clash = make_incident(slug="clash")
        cls.soldiers = add_figure(cls.clash, cls.wire, claimed_by=cls.gov)

    def test_claim_names_its_incident_claimant_and_source(self):
        body = self.client.get(reverse("casualtyfigure-detail", kwargs={"pk": self.soldiers.pk})).json()
        self.assertEqual(body["incident"], "clash")
        self.assertEqual(body["claimed_by"]["slug"], "gov")
        self.assertEqual(body["source"]["slug"], "wire")
        self.assertEqual(body["source"]["title"], self.wire.title)
        self.assertEqual(body["uid"], str(self.soldiers.uid))

    def test_unknown_id_is_a_json_404(self):
        response = self.client.get(reverse("casualtyfigure-detail", kwargs={"pk": 999999}))
        self.assertEqual(response.status_code, 404)
        self.assertIn("detail", response.json())

    def test_non_numeric_id_is_a_json_404(self):
        response = self.client.get("/api/v1/casualties/abc/")
        self.assertEqual(response.status_code, 404)
        self.assertEqual(response["Content-Type"], "application/json")


class ActorEndpointTests(TestCase):
    def test_detail(self):
        gov = make_actor(slug="gov", name="Government of Tajikistan", kind="state", country="TJ")
        nazarov = make_actor(
            slug="nazarov",
            name="Abdullo Nazarov",
            kind="person",
            country="TJ",
            parent=gov,
            aliases=["General Abdullo Nazarov"],
        )
        # The public sees actors of published incidents (and their parents): docs/api.md.
        add_actor(make_incident(), nazarov)
        body = self.client.get(reverse("actor-detail", kwargs={"slug": "nazarov"})).json()
        self.assertEqual(body["parent"], "gov")
        self.assertEqual(body["aliases"], ["General Abdullo Nazarov"])
        self.assertEqual(body["country"], "TJ")


class LocationEndpointTests(TestCase):
    def test_detail_without_coordinates(self):
        make_location(slug="khorugh", name="Khorugh", country_code="TJ")
        kyrgyzstan = make_location(
            slug="kg",
            name="Kyrgyzstan",
            country_code="KG",
            latitude=None,
            longitude=None,
            geo_precision="country",
        )
        make_incident(location=kyrgyzstan)  # the public sees places of published incidents
        body = self.client.get(reverse("location-detail", kwargs={"slug": "kg"})).json()
        self.assertEqual(
            (body["latitude"], body["longitude"], body["geo_precision"]), (None, None, "country")
        )


class SourceEndpointTests(TestCase):
    def test_list_leaves_the_text_out_and_detail_has_it(self):
        make_incident().sources.add(make_source(slug="wire", text="Full text of the article."))
        listed = self.client.get(reverse("source-list")).json()["results"][0]
        self.assertNotIn("text", listed)
        detail = self.client.get(reverse("source-detail", kwargs={"slug": "wire"})).json()
        self.assertEqual(detail["text"], "Full text of the article.")
