"""Every filter of every list: what each parameter matches, how results are ordered, and the
400 that names a parameter given a bad value. The incident filters apply to /incidents/,
/casualties/ and /stats/casualties/ alike (api/filters.py); each resource's own follow."""

import datetime

from django.http import QueryDict
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from incidents.api.filters import IncidentFilter
from incidents.models import Incident
from incidents.search import refresh_search_documents
from tests.factories import add_actor, add_figure, make_actor, make_incident, make_location, make_source

LIST_URL = reverse("incident-list")


def slugs(response, key="slug"):
    assert response.status_code == 200, response.content
    return [row[key] for row in response.json()["results"]]


class IncidentFilterTests(TestCase):
    """Dates, countries, types, actors, places, parents, search and the default order."""

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

    def test_unknown_parameters_are_ignored(self):
        self.assertEqual(len(slugs(self.get(colour="blue"))), 3)

    def test_bad_values_are_json_400s_naming_the_parameter(self):
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
                self.assertEqual(response["Content-Type"], "application/json")
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


class IncidentPlaceRoleAndNumberFilterTests(TestCase):
    """Precision, places, actor roles and kinds, claimants, counts, structure, sync and orderings."""

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


class CasualtyFilterTests(TestCase):
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


class ActorFilterTests(TestCase):
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
        # The public sees actors of published incidents, and their parents (gov): docs/api.md.
        incident = make_incident()
        add_actor(incident, cls.general)
        add_actor(incident, cls.osce, "mediator")

    def get(self, **params):
        return self.client.get(reverse("actor-list"), params)

    def test_filters(self):
        self.assertEqual(slugs(self.get(kind="person")), ["nazarov"])
        self.assertEqual(set(slugs(self.get(country="tj"))), {"gov", "nazarov"})
        self.assertEqual(slugs(self.get(search="osce")), ["osce"])
        self.assertEqual(slugs(self.get(search="general")), ["nazarov"])

    def test_bad_kind_is_a_400(self):
        response = self.get(kind="alien")
        self.assertEqual(response.status_code, 400)
        self.assertIn("kind", response.json())


class LocationFilterTests(TestCase):
    def test_filters(self):
        khorugh = make_location(slug="khorugh", name="Khorugh", country_code="TJ")
        kyrgyzstan = make_location(
            slug="kg",
            name="Kyrgyzstan",
            country_code="KG",
            latitude=None,
            longitude=None,
            geo_precision="country",
        )
        for place in (khorugh, kyrgyzstan):
            make_incident(location=place)  # the public sees places of published incidents
        self.assertEqual(slugs(self.client.get(reverse("location-list"), {"country": "kg"})), ["kg"])
        self.assertEqual(
            slugs(self.client.get(reverse("location-list"), {"geo_precision": "exact"})), ["khorugh"]
        )
        self.assertEqual(slugs(self.client.get(reverse("location-list"), {"search": "khor"})), ["khorugh"])
        self.assertEqual(
            self.client.get(reverse("location-list"), {"geo_precision": "street"}).status_code, 400
        )


class SourceFilterTests(TestCase):
    def test_filters(self):
        sources = [make_source(slug="statement", kind="official_statement", language="ru")]
        for _ in range(50):
            sources.append(make_source())
        make_incident().sources.add(*sources)  # the public sees sources of published incidents
        self.assertEqual(
            slugs(self.client.get(reverse("source-list"), {"kind": "official_statement"})), ["statement"]
        )
        self.assertEqual(slugs(self.client.get(reverse("source-list"), {"language": "RU"})), ["statement"])
        self.assertEqual(self.client.get(reverse("source-list"), {"kind": "rumour"}).status_code, 400)
