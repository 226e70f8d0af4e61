"""Casualty aggregation: every group_by key, filters applied, bounds kept, bad input refused.

Its one query per request: test_query_counts.py."""

import datetime

from django.test import TestCase
from django.urls import reverse

from tests.factories import add_actor, add_figure, make_actor, make_incident, make_location, make_source

URL = reverse("stats-casualties")


class StatsTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        source = make_source()
        tj = make_location(country_code="TJ", admin1="Gorno-Badakhshan")
        kg = make_location(country_code="KG", admin1="Osh")
        army = make_actor(slug="army")
        a = make_incident(location=tj, start_date=datetime.date(2012, 7, 24))
        b = make_incident(
            location=tj,
            start_date=datetime.date(2012, 8, 2),
            event_type="violence_against_civilians",
            sub_event_type="attack",
        )
        c = make_incident(location=kg, start_date=datetime.date(2013, 1, 5))
        add_actor(a, army, "side_a")
        add_actor(a, army, "commentator")  # a second role must not count the incident twice
        add_figure(a, source, group="state_forces", low=12, best=None, high=None)
        add_figure(
            a, source, group="state_forces", low=20, best=20, high=20
        )  # rival claim, less conservative
        add_figure(b, source, group="civilians", low=3, best=4, high=5, qualifier="about")
        add_figure(c, source, outcome="wounded", group="civilians", low=2, best=2, high=2, qualifier="exact")

    def stats(self, **params):
        response = self.client.get(URL, params)
        self.assertEqual(response.status_code, 200, response.content)
        return {str(row["key"]): row for row in response.json()["results"]}

    def test_country(self):
        rows = self.stats(group_by="country")
        self.assertEqual(
            (rows["TJ"]["incidents"], rows["TJ"]["low"], rows["TJ"]["best"], rows["TJ"]["high"]),
            (2, 15, 16, None),
        )
        self.assertEqual((rows["KG"]["incidents"], rows["KG"]["low"]), (1, None))

    def test_admin1_event_type_year_month(self):
        self.assertEqual(self.stats(group_by="admin1")["Osh"]["country"], "KG")
        self.assertEqual(self.stats(group_by="event_type")["violence_against_civilians"]["high"], 5)
        self.assertEqual(self.stats(group_by="year")["2012"]["incidents"], 2)
        self.assertEqual(set(self.stats(group_by="month")), {"2012-07", "2012-08", "2013-01"})

    def test_actor_counts_each_incident_once(self):
        row = self.stats(group_by="actor")["army"]
        self.assertEqual((row["incidents"], row["low"]), (1, 12))

    def test_group_uses_the_counted_figure(self):
        rows = self.stats(group_by="group")
        self.assertEqual(rows["state_forces"]["low"], 12)
        self.assertEqual((rows["civilians"]["low"], rows["civilians"]["high"]), (3, 5))

    def test_outcome_and_filters(self):
        rows = self.stats(group_by="outcome", country="KG")
        self.assertEqual((rows["wounded"]["low"], rows["killed"]["low"]), (2, None))
        self.assertEqual(self.stats(group_by="country", outcome="wounded")["KG"]["best"], 2)

    def test_bad_input_names_the_parameter(self):
        for params, field in (
            ({}, "group_by"),
            ({"group_by": "colour"}, "group_by"),
            ({"group_by": "year", "outcome": "dead"}, "outcome"),
            ({"group_by": "year", "date_from": "x"}, "date_from"),
        ):
            with self.subTest(params=params):
                response = self.client.get(URL, params)
                self.assertEqual(response.status_code, 400)
                self.assertIn(field, response.json())
