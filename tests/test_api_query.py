"""Query power on /incidents/ and /casualties/: the full filter set, ordering and cursor paging."""

import datetime

from django.db import connection
from django.http import QueryDict
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents.api.filters import IncidentFilter
from incidents.models import Incident
from tests.factories import add_actor, add_figure, make_actor, make_incident, make_location, make_source

LIST_URL = reverse("incident-list")


def slugs(response):
    assert response.status_code == 200, response.content
    return [row["slug"] for row in response.json()["results"]]


class FilterTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.source = make_source(slug="wire")
        khorugh = make_location(
            slug="khorugh", admin1="Gorno-Badakhshan", latitude="37.49", longitude="71.55"
        )
        dushanbe = make_location(
            slug="dushanbe", admin1="Dushanbe", latitude="38.56", longitude="68.79", geo_precision="near"
        )
        osh = make_location(slug="osh", country_code="KG", admin1="Osh", latitude="40.53", longitude="72.80")
        cls.gov = make_actor(slug="gov", kind="state")
        cls.army = make_actor(slug="army", kind="state_forces")
        cls.rebels = make_actor(slug="rebels", kind="armed_group")
        cls.parent = make_incident(slug="operation", location=khorugh, date_precision="week")
        cls.clash = make_incident(slug="clash", location=khorugh, parent=cls.parent)
        cls.town = make_incident(slug="town", location=dushanbe, date_precision="month")
        cls.abroad = make_incident(slug="abroad", location=osh, date_precision="year")
        cls.clash.sources.add(cls.source)
        add_actor(cls.clash, cls.army, "side_a")
        add_actor(cls.clash, cls.rebels, "side_b")
        add_actor(cls.town, cls.rebels, "perpetrator", claimed_by=cls.gov)
        add_figure(cls.clash, cls.source, low=12, best=None, claimed_by=cls.gov)
        add_figure(cls.town, cls.source, low=3, best=3, high=3, qualifier="exact")
        add_figure(cls.town, cls.source, outcome="wounded", low=7, best=None)

    def get(self, **params):
        return self.client.get(LIST_URL, params)

    def test_filtersets_built_side_by_side_keep_their_own_filters(self):
        # IncidentFilter shares its form class and its filters' declarations between
        # instances (incidents.api.filters.FilterSet); what one request asks must not leak.
        kyrgyz = IncidentFilter(QueryDict("country=KG"), queryset=Incident.objects.all())
        rebels = IncidentFilter(QueryDict("actor=rebels&country=TJ"), queryset=Incident.objects.all())
        self.assertIsNot(kyrgyz.filters["actor"], rebels.filters["actor"])
        self.assertIs(rebels.filters["actor"].parent, rebels)
        self.assertEqual({i.slug for i in rebels.qs}, {"clash", "town"})
        self.assertEqual({i.slug for i in kyrgyz.qs}, {"abroad"})
        self.assertFalse(hasattr(IncidentFilter.base_filters["actor"], "parent"))

    def test_date_precision(self):
        self.assertEqual(set(slugs(self.get(date_precision="day"))), {"clash"})
        self.assertEqual(set(slugs(self.get(date_precision__in="month,year"))), {"town", "abroad"})

    def test_places(self):
        self.assertEqual(set(slugs(self.get(admin1="gorno-badakhshan"))), {"operation", "clash"})
        self.assertEqual(set(slugs(self.get(geo_precision="near"))), {"town"})
        self.assertEqual(set(slugs(self.get(bbox="71,37,72,38"))), {"operation", "clash"})
        self.assertEqual(set(slugs(self.get(bbox="68,37,73,39"))), {"operation", "clash", "town"})
        # Khorugh to Dushanbe is about 250 km.
        self.assertEqual(set(slugs(self.get(near="37.49,71.55", radius_km=50))), {"operation", "clash"})
        self.assertEqual(
            set(slugs(self.get(near="37.49,71.55", radius_km=300))), {"operation", "clash", "town"}
        )

    def test_actor_role_and_kind_describe_one_participation(self):
        self.assertEqual(set(slugs(self.get(actor="rebels"))), {"clash", "town"})
        self.assertEqual(set(slugs(self.get(actor="rebels", actor_role="perpetrator"))), {"town"})
        self.assertEqual(set(slugs(self.get(actor_kind="state_forces"))), {"clash"})
        self.assertEqual(set(slugs(self.get(actor="army", actor_role="side_b"))), set())

    def test_claimed_by_covers_figures_and_roles(self):
        self.assertEqual(set(slugs(self.get(claimed_by="gov"))), {"clash", "town"})

    def test_numbers_use_best_falling_back_to_low(self):
        self.assertEqual(set(slugs(self.get(min_killed=10))), {"clash"})
        self.assertEqual(set(slugs(self.get(max_killed=5))), {"town"})
        self.assertEqual(set(slugs(self.get(min_wounded=7))), {"town"})

    def test_structure_source_and_sync(self):
        self.assertEqual(set(slugs(self.get(has_children="true"))), {"operation"})
        self.assertEqual(set(slugs(self.get(has_children="false"))), {"clash", "town", "abroad"})
        self.assertEqual(set(slugs(self.get(source="wire"))), {"clash"})
        Incident.objects.filter(slug="abroad").update(updated_at=timezone.now() + datetime.timedelta(days=1))
        later = (timezone.now() + datetime.timedelta(hours=1)).isoformat()
        self.assertEqual(slugs(self.get(updated_since=later)), ["abroad"])

    def test_orderings_have_unique_tie_breakers(self):
        self.assertEqual(slugs(self.get(ordering="-killed"))[:2], ["clash", "town"])
        self.assertEqual(slugs(self.get(ordering="killed"))[-2:], ["town", "clash"])
        self.assertEqual(
            slugs(self.get(ordering="title")),
            sorted(slugs(self.get()), key=lambda s: Incident.objects.get(slug=s).title),
        )
        same_day = slugs(self.get(ordering="start_date"))
        self.assertEqual(same_day, sorted(same_day, key=lambda s: Incident.objects.get(slug=s).pk))

    def test_bad_values_name_the_parameter(self):
        cases = {
            "date_precision": "hour",
            "date_precision__in": "day,hour",
            "geo_precision": "street",
            "bbox": "1,2,3",
            "near": "north",
            "actor_role": "hero",
            "actor_kind": "alien",
            "claimed_by": "nobody",
            "min_killed": "-1",
            "max_killed": "ten",
            "min_wounded": "99999999999999999999",
            "has_children": "maybe",
            "source": "rumour",
            "updated_since": "last week",
            "ordering": "colour",
            "cursor": "not-a-cursor",
        }
        for param, value in cases.items():
            with self.subTest(param=param):
                response = self.get(**{param: value})
                self.assertEqual(response.status_code, 400)
                self.assertIn(param, response.json())
        response = self.get(radius_km=10)
        self.assertEqual(response.status_code, 400)
        self.assertIn("radius_km", response.json())
        self.assertEqual(self.get(bbox="72,37,71,38").status_code, 400)

    def test_long_searches_are_capped_not_failed(self):
        response = self.get(search=" ".join(["word"] * 2000))
        self.assertEqual(response.status_code, 400)
        self.assertIn("search", response.json())
        self.assertEqual(self.get(search=" ".join(["x"] * 50)).status_code, 200)


class CursorPagingTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        source = make_source()
        for n in range(7):
            incident = make_incident(slug=f"i{n}", start_date=datetime.date(2012, 7, 1 + n % 3))
            add_figure(incident, source, low=n % 2, best=None)

    def walk(self, **params):
        seen = []
        response = self.client.get(LIST_URL, {"cursor": "", "page_size": 3, **params})
        while True:
            body = response.json()
            self.assertNotIn("count", body)
            seen += [row["slug"] for row in body["results"]]
            if not body["next"]:
                return seen
            response = self.client.get(body["next"])

    def test_cursor_pages_match_one_big_page_for_every_ordering(self):
        for ordering in ("", "start_date", "-killed", "killed", "title", "-updated_at"):
            with self.subTest(ordering=ordering):
                params = {"ordering": ordering} if ordering else {}
                whole = slugs(self.client.get(LIST_URL, {"page_size": 100, **params}))
                self.assertEqual(self.walk(**params), whole)
                self.assertEqual(len(whole), 7)

    # Expected: one query for the page (no COUNT), then actors, figures, sources, children.
    def test_cursor_page_runs_no_count(self):
        with self.assertNumQueries(5):
            self.client.get(LIST_URL, {"cursor": "", "page_size": 3})

    def test_a_later_page_bounds_its_first_sort_key(self):
        # The keyset condition is an OR of terms; the plain bound beside it is what lets
        # PostgreSQL start its index scan at the cursor instead of at the newest incident.
        first = self.client.get(LIST_URL, {"cursor": "", "page_size": 3}).json()
        with CaptureQueriesContext(connection) as queries:
            self.client.get(first["next"])
        page_sql = queries.captured_queries[0]["sql"]
        self.assertRegex(page_sql, r'"incidents_incident"\."start_date" <= ')
        for ordering, column in (("title", "title"), ("-updated_at", "updated_at")):
            with self.subTest(ordering=ordering):
                first = self.client.get(LIST_URL, {"cursor": "", "page_size": 3, "ordering": ordering}).json()
                with CaptureQueriesContext(connection) as queries:
                    self.client.get(first["next"])
                operator = ">=" if ordering == "title" else "<="
                self.assertIn(
                    f'"incidents_incident"."{column}" {operator} ', queries.captured_queries[0]["sql"]
                )


class CasualtyIncidentFilterTests(TestCase):
    def test_claims_take_incident_filters_and_their_own(self):
        source = make_source(slug="wire")
        tj = make_incident(slug="tj", location=make_location(country_code="TJ"))
        kg = make_incident(slug="kg", location=make_location(country_code="KG"))
        preferred = add_figure(tj, source, is_preferred=True, qualifier="exact", low=1, best=1, high=1)
        add_figure(kg, source)
        url = reverse("casualtyfigure-list")
        ids = [row["id"] for row in self.client.get(url, {"country": "TJ"}).json()["results"]]
        self.assertEqual(ids, [preferred.pk])
        self.assertEqual(len(self.client.get(url, {"qualifier": "at_least"}).json()["results"]), 1)
        self.assertEqual(
            [r["id"] for r in self.client.get(url, {"is_preferred": "true"}).json()["results"]],
            [preferred.pk],
        )
        response = self.client.get(url, {"date_from": "soon", "qualifier": "roughly"})
        self.assertEqual(response.status_code, 400)
        self.assertEqual(set(response.json()), {"date_from", "qualifier"})
