"""Casualty claims, actors, locations and sources endpoints."""

from django.test import TestCase
from django.urls import reverse

from tests.factories import add_figure, make_actor, make_incident, make_location, make_source


def slugs(response, key="slug"):
    return [row[key] for row in response.json()["results"]]


class CasualtyEndpointTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.wire = make_source(slug="wire")
        cls.radio = make_source(slug="radio")
        cls.gov = make_actor(slug="gov", name="Government", kind="state")
        cls.clash = make_incident(slug="clash")
        cls.other = make_incident(slug="other")
        cls.soldiers = add_figure(cls.clash, cls.wire, claimed_by=cls.gov)
        cls.civilians = add_figure(
            cls.clash, cls.radio, group="civilians", low=30, best=None, quote="at least 30 civilians"
        )
        cls.wounded = add_figure(
            cls.other, cls.wire, outcome="wounded", qualifier="vague", low=None, best=None
        )

    def get(self, **params):
        return self.client.get(reverse("casualtyfigure-list"), params)

    def test_claim_names_its_incident_claimant_and_source(self):
        body = self.client.get(reverse("casualtyfigure-detail", kwargs={"pk": self.soldiers.pk})).json()
        self.assertEqual(body["incident"], "clash")
        self.assertEqual(body["claimed_by"]["slug"], "gov")
        self.assertEqual(body["source"]["slug"], "wire")
        self.assertEqual(body["source"]["title"], self.wire.title)
        self.assertEqual(body["uid"], str(self.soldiers.uid))

    def test_filters(self):
        ids = {
            "incident": ("clash", {self.soldiers.pk, self.civilians.pk}),
            "outcome": ("wounded", {self.wounded.pk}),
            "group": ("civilians", {self.civilians.pk}),
            "claimed_by": ("gov", {self.soldiers.pk}),
            "source": ("radio", {self.civilians.pk}),
        }
        for param, (value, expected) in ids.items():
            with self.subTest(param=param):
                self.assertEqual(set(slugs(self.get(**{param: value}), "id")), expected)

    def test_bad_filter_values_name_the_parameter(self):
        for param, value in {
            "outcome": "dead",
            "group": "everyone",
            "incident": "nope",
            "source": "x",
        }.items():
            with self.subTest(param=param):
                response = self.get(**{param: value})
                self.assertEqual(response.status_code, 400)
                self.assertIn(param, response.json())

    def test_unknown_id_is_a_json_404(self):
        response = self.client.get(reverse("casualtyfigure-detail", kwargs={"pk": 999999}))
        self.assertEqual(response.status_code, 404)
        self.assertIn("detail", response.json())

    def test_non_numeric_id_is_a_json_404(self):
        response = self.client.get("/api/v1/casualties/abc/")
        self.assertEqual(response.status_code, 404)
        self.assertEqual(response["Content-Type"], "application/json")


class CasualtyQueryCountTests(TestCase):
    # Expected queries: 1. COUNT(*); 2. figures JOIN incident, actor, claimed_by, source.
    def test_list_query_count_does_not_grow(self):
        source = make_source()
        for count in (1, 50):
            with self.subTest(figures=count):
                while self.get_count() < count:
                    add_figure(
                        make_incident(), source, claimed_by=make_actor(), actor=make_actor(), refresh=False
                    )
                with self.assertNumQueries(2):
                    response = self.client.get(reverse("casualtyfigure-list"), {"page_size": 50})
                self.assertEqual(len(response.json()["results"]), count)

    def get_count(self):
        from incidents.models import CasualtyFigure

        return CasualtyFigure.objects.count()

    # Expected: the figure joined to its incident, actor, claimant and source.
    def test_detail_is_one_query(self):
        figure = add_figure(make_incident(), make_source(), claimed_by=make_actor(), actor=make_actor())
        with self.assertNumQueries(1):
            self.client.get(reverse("casualtyfigure-detail", kwargs={"pk": figure.pk}))


class ActorEndpointTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.gov = make_actor(slug="gov", name="Government of Tajikistan", kind="state", country="TJ")
        cls.general = make_actor(
            slug="nazarov",
            name="Abdullo Nazarov",
            kind="person",
            country="TJ",
            parent=cls.gov,
            aliases=["General Abdullo Nazarov"],
        )
        cls.osce = make_actor(
            slug="osce", name="Organization for Security", kind="international_organisation", aliases=["OSCE"]
        )

    def get(self, **params):
        return self.client.get(reverse("actor-list"), params)

    def test_detail(self):
        body = self.client.get(reverse("actor-detail", kwargs={"slug": "nazarov"})).json()
        self.assertEqual(body["parent"], "gov")
        self.assertEqual(body["aliases"], ["General Abdullo Nazarov"])
        self.assertEqual(body["country"], "TJ")

    def test_filters(self):
        self.assertEqual(slugs(self.get(kind="person")), ["nazarov"])
        self.assertEqual(set(slugs(self.get(country="tj"))), {"gov", "nazarov"})
        self.assertEqual(slugs(self.get(search="osce")), ["osce"])
        self.assertEqual(slugs(self.get(search="general")), ["nazarov"])

    def test_bad_kind_is_a_400(self):
        response = self.get(kind="alien")
        self.assertEqual(response.status_code, 400)
        self.assertIn("kind", response.json())

    # Expected queries: 1. COUNT(*); 2. actors JOIN parent.
    def test_list_query_count_does_not_grow(self):
        with self.assertNumQueries(2):
            self.get()
        for _ in range(50):
            make_actor(parent=self.gov)
        with self.assertNumQueries(2):
            response = self.get(page_size=100)
        self.assertEqual(len(response.json()["results"]), 53)

    # Expected: the actor joined to its parent.
    def test_detail_is_one_query(self):
        with self.assertNumQueries(1):
            self.client.get(reverse("actor-detail", kwargs={"slug": "nazarov"}))


class LocationEndpointTests(TestCase):
    def test_detail_list_filters_and_query_counts(self):
        make_location(slug="khorugh", name="Khorugh", country_code="TJ")
        make_location(
            slug="kg",
            name="Kyrgyzstan",
            country_code="KG",
            latitude=None,
            longitude=None,
            geo_precision="country",
        )
        body = self.client.get(reverse("location-detail", kwargs={"slug": "kg"})).json()
        self.assertEqual(
            (body["latitude"], body["longitude"], body["geo_precision"]), (None, None, "country")
        )
        self.assertEqual(slugs(self.client.get(reverse("location-list"), {"country": "kg"})), ["kg"])
        self.assertEqual(
            slugs(self.client.get(reverse("location-list"), {"geo_precision": "exact"})), ["khorugh"]
        )
        self.assertEqual(slugs(self.client.get(reverse("location-list"), {"search": "khor"})), ["khorugh"])
        self.assertEqual(
            self.client.get(reverse("location-list"), {"geo_precision": "street"}).status_code, 400
        )
        # Expected queries: 1. COUNT(*); 2. the page of locations.
        for _ in range(50):
            make_location()
        with self.assertNumQueries(2):
            response = self.client.get(reverse("location-list"), {"page_size": 100})
        self.assertEqual(response.json()["count"], 52)
        # Expected: the one location.
        with self.assertNumQueries(1):
            self.client.get(reverse("location-detail", kwargs={"slug": "khorugh"}))


class SourceEndpointTests(TestCase):
    def test_list_leaves_the_text_out_and_detail_has_it(self):
        make_source(slug="wire", text="Full text of the article.")
        listed = self.client.get(reverse("source-list")).json()["results"][0]
        self.assertNotIn("text", listed)
        detail = self.client.get(reverse("source-detail", kwargs={"slug": "wire"})).json()
        self.assertEqual(detail["text"], "Full text of the article.")

    def test_filters_and_query_counts(self):
        make_source(slug="statement", kind="official_statement", language="ru")
        for _ in range(50):
            make_source()
        self.assertEqual(
            slugs(self.client.get(reverse("source-list"), {"kind": "official_statement"})), ["statement"]
        )
        self.assertEqual(slugs(self.client.get(reverse("source-list"), {"language": "RU"})), ["statement"])
        self.assertEqual(self.client.get(reverse("source-list"), {"kind": "rumour"}).status_code, 400)
        # Expected queries: 1. COUNT(*); 2. the page of sources (without their text).
        with self.assertNumQueries(2):
            response = self.client.get(reverse("source-list"), {"page_size": 100})
        self.assertEqual(response.json()["count"], 51)
        # Expected: the one source.
        with self.assertNumQueries(1):
            self.client.get(reverse("source-detail", kwargs={"slug": "statement"}))
