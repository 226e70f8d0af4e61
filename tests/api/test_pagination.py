"""Paging the incident list: numbered pages with a count, bounds on the page size, and
keyset cursors that walk every ordering as one big page would."""

import datetime

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import add_figure, make_incident, make_source

LIST_URL = reverse("incident-list")


def slugs(response):
    assert response.status_code == 200, response.content
    return [row["slug"] for row in response.json()["results"]]


class PageTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        make_incident(slug="early", start_date=datetime.date(2012, 7, 1), end_date=datetime.date(2012, 7, 3))
        span = make_incident(
            slug="span", start_date=datetime.date(2012, 7, 2), end_date=datetime.date(2012, 7, 20)
        )
        make_incident(slug="protest", start_date=datetime.date(2012, 7, 10), parent=span)

    def get(self, **params):
        return self.client.get(LIST_URL, params)

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
